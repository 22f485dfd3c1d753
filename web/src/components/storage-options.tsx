import type { StorageEntry } from '../types';

/** The <option>s of a storage choice: "name (type)". */
export function StorageOptions({ storages }: { storages: readonly StorageEntry[] }) {
  return (
    <>
      {storages.map((s) => (
        <option key={s.storage} value={s.storage}>
          {s.storage} ({s.type})
        </option>
      ))}
    </>
  );
}
