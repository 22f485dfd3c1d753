export { JsonLineParser, type JsonLinesHandlers } from './json-lines.js';
export {
  QmpClient,
  QmpCommandError,
  QMP_DEFAULT_TIMEOUT_MS,
  type QmpConnectOptions,
  type QmpEvent,
  type QmpExecuteOptions,
  type QmpGreeting,
} from './qmp-client.js';
export {
  AgentClient,
  AgentCommandError,
  AGENT_DEFAULT_CONNECT_TIMEOUT_MS,
  AGENT_DEFAULT_TIMEOUT_MS,
  type AgentConnectOptions,
  type AgentExecuteOptions,
} from './agent-client.js';
export * from './vm-paths.js';
export * from './command-line.js';
export * from './vm-process.js';
export * from './agent-control.js';
export * from './point-in-time.js';
