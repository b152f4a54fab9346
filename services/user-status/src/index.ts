// For the demo, the benchmark and other packages' tests: boot the service in-process or measure it.
export {
  bootstrap,
  createDirectory,
  CONFIG_SECTIONS,
  type UserStatusApp,
  type UserStatusConfig,
} from './bootstrap';
export { benchUserStatus, type BenchUserStatusOptions, type BenchUserStatusResult } from './bench';
export type { Directory, DirectoryEntry } from './directory/directory';
export { KvPolicySource } from './policy/kv-policy-source';
export type { PolicySource, UserPolicy, UserStatusPolicy } from './policy/policy-source';
export { NOT_CONFIGURED_MESSAGE } from './status/user-status.service';
