// Step 3: the credential (the token, or every value of the container's part of
// the local vault) must reach the bridge's container only as a file. If it,
// or any 1Password credential variable, is already in the environment, the
// leak this design exists to prevent has happened: refuse, naming the
// variable and never its value.
import { ExitCode, StackError } from '../../src/errors.js';
import type { SecretSet } from '../../src/secrets/secret-set.js';

const STEP = 'environment';
const CREDENTIAL_VARIABLES = /^(OP_SERVICE_ACCOUNT_TOKEN|OP_CONNECT_TOKEN|OP_CONNECT_HOST|OP_SESSION_.*)$/;

export function checkEnvironment(env: NodeJS.ProcessEnv, token: SecretSet): void {
  for (const [name, value] of Object.entries(env)) {
    if (CREDENTIAL_VARIABLES.test(name)) {
      throw new StackError(
        'env-credential',
        `${name} is set in the environment; remove it: the token must come only from the secret file (OP_SERVICE_ACCOUNT_TOKEN_FILE)`,
        {
          step: STEP,
          exitCode: ExitCode.noPerm,
        },
      );
    }
    const hit = value === undefined ? undefined : (token.find(value) ?? token.find(name));
    if (hit) {
      throw new StackError(
        'env-token',
        `the environment variable ${name} holds ${hit.label}; remove it from the container's environment`,
        {
          step: STEP,
          exitCode: ExitCode.noPerm,
        },
      );
    }
  }
}
