/**
 * Connector credentials: read when an action asks for one, from the environment variable keel.yaml
 * names or from the secrets the editor handed over (its secret storage, per workspace and
 * connector). Nothing here is written anywhere: every value read is registered for redaction, so
 * it never reaches a journal, trace, cassette or log, whatever message it ends up in.
 */
import type { CredentialSource } from '@keel/schemas';
import { OperatorError } from '../errors';
import type { ConnectorInstance } from './registry';

/** A credential that is not where keel.yaml says it is: the operator can fix it. */
export class MissingCredentialError extends OperatorError {}

/** Shorter values are not redacted (they would blank out ordinary words), so they are refused. */
export const MIN_CREDENTIAL_LENGTH = 8;

export class ConnectorSecrets {
  /** `<connector>/<credential>` → value, as the editor handed it over. */
  private readonly values = new Map<string, string>();
  private readonly listeners = new Set<(value: string) => void>();

  /** The editor's secret for a connector's credential; an empty value forgets it. */
  set(connector: string, credential: string, value: string): void {
    const key = `${connector}/${credential}`;
    if (value === '') {
      this.values.delete(key);
      return;
    }
    this.values.set(key, value);
    for (const listener of this.listeners) listener(value);
  }

  get(connector: string, credential: string): string | undefined {
    return this.values.get(`${connector}/${credential}`);
  }

  all(): string[] {
    return [...this.values.values()];
  }

  /** Called with every value handed over from now on (to redact it). */
  onSecret(listener: (value: string) => void): void {
    this.listeners.add(listener);
  }
}

/**
 * Resolves the credentials of one connector instance. `redact` is called with each value before it
 * is returned, so no caller can hold a value the logs and journals do not know to hide.
 */
export function credentialResolver(
  instance: ConnectorInstance,
  secrets: ConnectorSecrets,
  env: NodeJS.ProcessEnv,
  redact: (value: string) => void,
): (name: string) => string {
  return (name) => {
    const source: CredentialSource | undefined = instance.credentials[name];
    if (!source) {
      throw new MissingCredentialError(
        `connector "${instance.name}" (${instance.connector.id}) asks for the credential "${name}", which keel.yaml does not name: ` +
          `add "credentials: { ${name}: { env: VARIABLE } }" under connectors.${instance.name} in keel.yaml`,
      );
    }
    const value = 'env' in source ? env[source.env] : secrets.get(instance.name, name);
    if (value === undefined || value === '') {
      throw new MissingCredentialError(
        'env' in source
          ? `the credential "${name}" of connector "${instance.name}" is unset: keel.yaml (connectors.${instance.name}.credentials.${name}) ` +
              `reads it from the environment variable ${source.env}; set it where the Keel daemon starts, then restart the daemon`
          : `the credential "${name}" of connector "${instance.name}" is not in the editor's secret storage: ` +
              `store it with the editor's command "Keel: Set Connector Secret" (connector ${instance.name}, credential ${name}), ` +
              `or read it from an environment variable instead (keel.yaml: connectors.${instance.name}.credentials.${name}: { env: VARIABLE })`,
      );
    }
    if (value.length < MIN_CREDENTIAL_LENGTH) {
      throw new MissingCredentialError(
        `the credential "${name}" of connector "${instance.name}" is shorter than ${MIN_CREDENTIAL_LENGTH} characters, too short to be a secret ` +
          `Keel can keep out of its logs and journals (a value like "true" or "1" would hide every such word): ` +
          ('env' in source
            ? `keel.yaml (connectors.${instance.name}.credentials.${name}) reads the environment variable ${source.env}; point it at the real secret`
            : `store the real secret with "Keel: Set Connector Secret"`),
      );
    }
    redact(value);
    return value;
  };
}

/** Every credential value the instances could use now, for the journal's and the logs' redaction. */
export function knownCredentials(
  instances: readonly ConnectorInstance[],
  secrets: ConnectorSecrets,
  env: NodeJS.ProcessEnv,
): string[] {
  const values = new Set(secrets.all());
  for (const instance of instances) {
    for (const source of Object.values(instance.credentials)) {
      const value = 'env' in source ? env[source.env] : undefined;
      if (value) values.add(value);
    }
  }
  return [...values].filter((v) => v.length >= MIN_CREDENTIAL_LENGTH);
}
