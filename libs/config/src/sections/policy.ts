import { boolean, integer, optionalPath, optionalText, text } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface PolicySectionSettings {
  adminTokenFile?: string;
  /** Read from admin_token_file. Secret: never log it. */
  adminToken?: string;
  /** Recorded as created.by / updated.by for changes made with the admin token. */
  adminName: string;
  allowUnverifiedEnrollment: boolean;
  /** AD group (CN or DN) whose members may log in to the console as administrators. */
  adminGroup: string;
  /** AD group (CN or DN) whose members may log in read-only; unset: nobody. */
  viewerGroup?: string;
  sessionTtlMinutes: number;
  /** Failed logins allowed per user name and per client address within 5 minutes. */
  loginMaxFailures: number;
  /**
   * Where the service writes a one-time bootstrap administrator sign-in code at start-up; unset = no
   * bootstrap administrator (the default).
   */
  bootstrapAdminFile?: string;
  /** How long that code is valid after start-up. */
  bootstrapAdminMinutes: number;
}

const ADMIN_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
const MIN_TOKEN_LENGTH = 24;

/** [policy]: the policy service's REST API (enrollments, terminals). */
export const policySection = defineSection({
  name: 'policy',
  summary:
    'policy service: break-glass admin token, bootstrap administrator, administrator login and enrollment checks',
  fields: {
    admin_token_file: optionalPath(),
    admin_name: text({
      default: 'break-glass-admin',
      expects: '1-64 of A-Z a-z 0-9 _ . @ -',
      validate: (v) => (ADMIN_NAME_PATTERN.test(v) ? undefined : 'must be 1-64 of A-Z a-z 0-9 _ . @ -'),
    }),
    allow_unverified_enrollment: boolean(false),
    admin_group: text({ default: 'Tapgate Administrators', expects: 'an AD group CN or DN' }),
    viewer_group: optionalText({ expects: 'an AD group CN or DN' }),
    session_ttl_minutes: integer({ default: 60, min: 5, max: 1440 }),
    login_max_failures: integer({ default: 5, min: 1, max: 100 }),
    bootstrap_admin_file: optionalPath(),
    bootstrap_admin_minutes: integer({ default: 15, min: 1, max: 1440 }),
  },
  build(v, at): PolicySectionSettings {
    // Optional here so a service that builds every section is not held to it; the policy service refuses
    // to start without it. Read now, so a missing or weak token fails at boot rather than on first use.
    let adminToken: string | undefined;
    if (v.admin_token_file !== undefined) {
      adminToken = at.readSecret('admin_token_file', v.admin_token_file);
      if (adminToken.length < MIN_TOKEN_LENGTH || /\s/.test(adminToken)) {
        throw at.error(
          'admin_token_file',
          `${v.admin_token_file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces`,
        );
      }
    }
    return defined({
      adminTokenFile: v.admin_token_file,
      adminToken,
      adminName: v.admin_name,
      allowUnverifiedEnrollment: v.allow_unverified_enrollment,
      adminGroup: v.admin_group,
      viewerGroup: v.viewer_group,
      sessionTtlMinutes: v.session_ttl_minutes,
      loginMaxFailures: v.login_max_failures,
      bootstrapAdminFile: v.bootstrap_admin_file,
      bootstrapAdminMinutes: v.bootstrap_admin_minutes,
    });
  },
});
