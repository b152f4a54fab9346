import { boolean, optionalPath, text } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface PolicySectionSettings {
  adminTokenFile?: string;
  /** Read from admin_token_file. Secret: never log it. */
  adminToken?: string;
  /** Recorded as created.by / updated.by for changes made with the admin token. */
  adminName: string;
  allowUnverifiedEnrollment: boolean;
}

const ADMIN_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
const MIN_TOKEN_LENGTH = 24;

/** [policy]: the policy service's REST API (enrollments, terminals). */
export const policySection = defineSection({
  name: 'policy',
  summary: 'policy service: the stopgap admin token and enrollment checks',
  fields: {
    admin_token_file: optionalPath(),
    admin_name: text({
      default: 'break-glass-admin',
      expects: '1-64 of A-Z a-z 0-9 _ . @ -',
      validate: (v) => (ADMIN_NAME_PATTERN.test(v) ? undefined : 'must be 1-64 of A-Z a-z 0-9 _ . @ -'),
    }),
    allow_unverified_enrollment: boolean(false),
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
    });
  },
});
