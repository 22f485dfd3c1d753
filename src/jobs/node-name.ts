import { hostname } from 'node:os';

/** This node's name: GUESTVAULT_NODE when set, else the short host name (as Proxmox uses it). */
export function localNodeName(): string {
  return process.env.GUESTVAULT_NODE || hostname().split('.')[0] || 'localhost';
}
