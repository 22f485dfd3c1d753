/** Guest-agent actions on a VM by id: reachability, orderly shutdown. */
import { AgentClient } from './agent-client.js';
import { vmPaths } from './vm-paths.js';

/**
 * Connect and ping within `timeoutMs`; undefined (with the reason) when the agent does not
 * answer, which callers treat as "agent configured but not running".
 */
export async function reachAgent(vmid: string, timeoutMs: number): Promise<{ agent?: AgentClient; reason?: string }> {
  let agent: AgentClient | undefined;
  try {
    agent = await AgentClient.connect(vmPaths(vmid).agent, { timeoutMs });
    await agent.ping({ timeoutMs });
    return { agent };
  } catch (err) {
    await agent?.close();
    return { reason: (err as Error).message };
  }
}

/** Ask the guest agent to power the guest off; a silent agent is only logged. */
export async function agentShutdown(vmid: string, log?: (m: string) => void): Promise<void> {
  const { agent, reason } = await reachAgent(vmid, 3000);
  if (!agent) {
    log?.(`guest agent of VM ${vmid} does not answer (${reason}); relying on ACPI shutdown`);
    return;
  }
  try {
    await agent.shutdown('powerdown', { timeoutMs: 3000 });
  } finally {
    await agent.close();
  }
}
