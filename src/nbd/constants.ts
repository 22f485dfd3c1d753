/**
 * NBD protocol constants, as described in the protocol document
 * (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md). All values go on the wire in
 * network byte order (big-endian).
 */

// ---- Handshake magics -------------------------------------------------------------------------

/** First 8 bytes the server sends: ASCII "NBDMAGIC". */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** Newstyle handshake magic, also prefixed to every option the client sends: ASCII "IHAVEOPT". */
export const NBD_IHAVEOPT = 0x49484156454f5054n;
/** Oldstyle handshake magic (unsupported here; only recognised to give a clear error). */
export const NBD_CLISERV_MAGIC = 0x00420281861253n;
/** Magic at the start of every option reply in fixed newstyle negotiation. */
export const NBD_OPT_REPLY_MAGIC = 0x3e889045565a9n;

// ---- Handshake flags (16 bits, server → client) -----------------------------------------------

/** Server supports fixed newstyle negotiation. */
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
/** Server will omit the 124 zero bytes after NBD_OPT_EXPORT_NAME if the client asks. */
export const NBD_FLAG_NO_ZEROES = 1 << 1;

// ---- Client flags (32 bits, client → server) --------------------------------------------------

/** Client speaks fixed newstyle. */
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
/** Client does not want the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// ---- Options (client → server during haggling) ------------------------------------------------

/** Select an export and enter transmission (legacy; no error reply possible). */
export const NBD_OPT_EXPORT_NAME = 1;
/** Soft disconnect during haggling. */
export const NBD_OPT_ABORT = 2;
/** List exports. */
export const NBD_OPT_LIST = 3;
/** Upgrade to TLS. */
export const NBD_OPT_STARTTLS = 5;
/** Ask about an export without entering transmission. */
export const NBD_OPT_INFO = 6;
/** Select an export (with NBD_INFO_* replies) and enter transmission. */
export const NBD_OPT_GO = 7;
/** Ask the server to use structured replies in transmission. */
export const NBD_OPT_STRUCTURED_REPLY = 8;
/** Query which metadata contexts an export offers. */
export const NBD_OPT_LIST_META_CONTEXT = 9;
/** Select metadata contexts for NBD_CMD_BLOCK_STATUS; the server assigns each a 32-bit id. */
export const NBD_OPT_SET_META_CONTEXT = 10;
/** Ask for 64-bit extended headers (not used by this client). */
export const NBD_OPT_EXTENDED_HEADERS = 11;

// ---- Option reply types (server → client) -----------------------------------------------------

/** Final successful reply to an option. */
export const NBD_REP_ACK = 1;
/** One export in an NBD_OPT_LIST answer. */
export const NBD_REP_SERVER = 2;
/** An NBD_INFO_* item in reply to NBD_OPT_INFO / NBD_OPT_GO. */
export const NBD_REP_INFO = 3;
/** One selected metadata context: 32-bit id followed by its name. */
export const NBD_REP_META_CONTEXT = 4;

/** Reply types with this bit set are errors; they may carry a UTF-8 message. */
export const NBD_REP_FLAG_ERROR = 0x80000000;
/** Option not known / not supported by the server. */
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1;
/** Forbidden by server policy. */
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2;
/** Syntactically or semantically invalid option. */
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3;
/** Not supported on this platform. */
export const NBD_REP_ERR_PLATFORM = NBD_REP_FLAG_ERROR + 4;
/** TLS is required first. */
export const NBD_REP_ERR_TLS_REQD = NBD_REP_FLAG_ERROR + 5;
/** The requested export is not available. */
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6;
/** The server is shutting down. */
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7;
/** The export needs the client to honour block size constraints (request NBD_INFO_BLOCK_SIZE). */
export const NBD_REP_ERR_BLOCK_SIZE_REQD = NBD_REP_FLAG_ERROR + 8;
/** The request or reply is too large. */
export const NBD_REP_ERR_TOO_BIG = NBD_REP_FLAG_ERROR + 9;
/** The export needs extended headers. */
export const NBD_REP_ERR_EXT_HEADER_REQD = NBD_REP_FLAG_ERROR + 10;

// ---- NBD_INFO_* items (inside NBD_REP_INFO and requested in NBD_OPT_GO) ------------------------

/** Export size (64 bits) and transmission flags (16 bits). Always sent on NBD_OPT_GO success. */
export const NBD_INFO_EXPORT = 0;
/** Canonical export name. */
export const NBD_INFO_NAME = 1;
/** Human-readable description. */
export const NBD_INFO_DESCRIPTION = 2;
/** Minimum, preferred and maximum block sizes (32 bits each). */
export const NBD_INFO_BLOCK_SIZE = 3;

// ---- Transmission flags (16 bits) -------------------------------------------------------------

/** Always set when the flags field is meaningful. */
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
/** Export is read-only. */
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
/** Server supports NBD_CMD_FLAG_DF (don't fragment reads). */
export const NBD_FLAG_SEND_DF = 1 << 7;
/** Several connections to this export see a consistent view. */
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;
export const NBD_FLAG_SEND_RESIZE = 1 << 9;
export const NBD_FLAG_SEND_CACHE = 1 << 10;
export const NBD_FLAG_SEND_FAST_ZERO = 1 << 11;

// ---- Requests ---------------------------------------------------------------------------------

/** Magic at the start of every request (32 bits). */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Size of a compact request header: magic, flags, type, cookie, offset, length. */
export const NBD_REQUEST_SIZE = 28;

/** Command types (16 bits). */
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
/** Disconnect; the server sends no reply. */
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
/** Query metadata (allocation, dirty bitmaps) for a range, for every negotiated context. */
export const NBD_CMD_BLOCK_STATUS = 7;

/** Command flags (16 bits). */
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
/** Don't fragment a structured read reply. */
export const NBD_CMD_FLAG_DF = 1 << 2;
/** Block status: return only one extent per context. */
export const NBD_CMD_FLAG_REQ_ONE = 1 << 3;

// ---- Replies ----------------------------------------------------------------------------------

/** Simple reply: magic, error (32), cookie (64), then data for a successful read. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_SIMPLE_REPLY_SIZE = 16;
/** Structured reply chunk: magic, flags (16), type (16), cookie (64), payload length (32). */
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;
export const NBD_STRUCTURED_REPLY_SIZE = 20;
/** Extended reply header magic (only with NBD_OPT_EXTENDED_HEADERS; never negotiated here). */
export const NBD_EXTENDED_REPLY_MAGIC = 0x6e8a278c;

/** Structured reply flag: this is the last chunk for the cookie. */
export const NBD_REPLY_FLAG_DONE = 1 << 0;

/** Structured reply chunk types. */
export const NBD_REPLY_TYPE_NONE = 0;
/** 64-bit offset followed by data. */
export const NBD_REPLY_TYPE_OFFSET_DATA = 1;
/** 64-bit offset and 32-bit length of a range that reads as zeroes. */
export const NBD_REPLY_TYPE_OFFSET_HOLE = 2;
/** 32-bit context id followed by (32-bit length, 32-bit flags) extent descriptors. */
export const NBD_REPLY_TYPE_BLOCK_STATUS = 5;
/** Chunk types with this bit set are errors. */
export const NBD_REPLY_TYPE_FLAG_ERROR = 1 << 15;
/** 32-bit errno, 16-bit message length, message. */
export const NBD_REPLY_TYPE_ERROR = NBD_REPLY_TYPE_FLAG_ERROR + 1;
/** Like NBD_REPLY_TYPE_ERROR followed by the 64-bit offset where the error happened. */
export const NBD_REPLY_TYPE_ERROR_OFFSET = NBD_REPLY_TYPE_FLAG_ERROR + 2;

/** Error values the protocol defines (same numbers as Linux errno). */
export const NBD_ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM',
  5: 'EIO',
  12: 'ENOMEM',
  22: 'EINVAL',
  28: 'ENOSPC',
  75: 'EOVERFLOW',
  95: 'ENOTSUP',
  108: 'ESHUTDOWN',
};

// ---- Metadata contexts ------------------------------------------------------------------------

/** The standard allocation context. */
export const NBD_CONTEXT_BASE_ALLOCATION = 'base:allocation';
/** base:allocation flag: the range is not allocated. */
export const NBD_STATE_HOLE = 1 << 0;
/** base:allocation flag: the range reads as zeroes. */
export const NBD_STATE_ZERO = 1 << 1;
/** QEMU's dirty bitmap contexts are named this prefix + bitmap name. */
export const NBD_CONTEXT_QEMU_DIRTY_BITMAP_PREFIX = 'qemu:dirty-bitmap:';
/** qemu:dirty-bitmap:* flag: the range changed while the bitmap was recording. */
export const NBD_STATE_DIRTY = 1 << 0;

// ---- Client defaults --------------------------------------------------------------------------

/** Largest read sent as one request when the server gives no NBD_INFO_BLOCK_SIZE maximum. */
export const NBD_DEFAULT_MAX_REQUEST = 32 * 1024 * 1024;
/** Largest length one NBD_CMD_BLOCK_STATUS can ask about (32-bit field, kept 64 KiB aligned). */
export const NBD_MAX_BLOCK_STATUS_LENGTH = 0xffff0000;
/** Default timeout for connecting + handshake and for each request. */
export const NBD_DEFAULT_TIMEOUT_MS = 30_000;
