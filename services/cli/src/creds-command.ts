import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { SynodError } from '@synod/codec';
import { loadConfig, nodeIdentity } from '@synod/config';
import { natsConfigText } from '@synod/natsd';
import { subjects } from '@synod/transport';
import { writeCredentials } from './cluster-launch.js';
import { DC_NAMES, initialPlacement } from './initial-placement.js';

export const CREDS_HELP = `synod creds — write the secret material of a Kubernetes deployment (k8s/README.md)

Usage: synod creds --out <dir> [--cluster synod] [--dcs 3]

Writes into <dir> (created mode 0700; every file mode 0600), the files the kind overlay's
secretGenerator reads (k8s/overlays/kind/kustomization.yaml):
  <user>.json       one NATS credential per process, with the subject permissions of its role
                    (docs/transport.md "Credentials"): spanservers n1…, time masters tm-<dc>,
                    placement replicas p1…, and operator, client, gateway — the same users and
                    permissions 'synod up --nats-auth users' creates (writeCredentials)
  nats-auth.conf    the nats-server config part with max_payload and those users (natsConfigText),
                    included by every zone's nats-server config
  gateway-tokens    one random bearer token for 'synod gateway --token-file' (and the k6 Job)

Fresh random passwords and token on every run. The directory must be empty or absent unless --force.

Options:
  --out <dir>        where to write (required)
  --cluster <name>   cluster subject prefix, default synod
  --dcs <n>          DCs (one spanserver, time master and placement replica each), 1..${DC_NAMES.length}, default 3
  --force            overwrite files already in <dir>`;

const options = z.object({
  out: z.string().min(1),
  cluster: nodeIdentity.cluster.default('synod'),
  dcs: z.coerce.number().int().min(1).max(DC_NAMES.length).default(3),
  force: z.enum(['true', 'false']).default('false'),
});

/** The processes of a deployment with `dcs` DCs, one spanserver each: the users of its NATS servers. */
export function deploymentProcesses(cluster: string, dcs: number): Array<{ id: string; serves?: string[] }> {
  const subj = subjects(cluster);
  const map = initialPlacement(dcs, 1, []);
  const dcNames = DC_NAMES.slice(0, dcs);
  return [
    ...map.nodes.map((n) => ({ id: n.id })),
    ...dcNames.map((dc) => ({ id: `tm-${dc}`, serves: [subj.timemaster(dc)] })),
    ...dcNames.map((_, i) => ({ id: `p${i + 1}`, serves: [subj.placement] })),
  ];
}

/** Writes the files; returns their names. */
export function writeDeploymentSecrets(dir: string, cluster: string, dcs: number): string[] {
  const users = writeCredentials(dir, cluster, deploymentProcesses(cluster, dcs));
  const auth = join(dir, 'nats-auth.conf');
  writeFileSync(auth, natsConfigText({ authorization: { users } }), { mode: 0o600 });
  chmodSync(auth, 0o600);
  // No newline after the token: the k6 Job reads this file into SYNOD_TOKEN, an HTTP header value.
  const tokens = join(dir, 'gateway-tokens');
  writeFileSync(tokens, randomBytes(24).toString('hex'), { mode: 0o600 });
  chmodSync(tokens, 0o600);
  return readdirSync(dir).sort();
}

export async function runCreds(argv: string[]): Promise<void> {
  const o = loadConfig(options, { argv: argv.map((a) => (a === '--force' ? '--force=true' : a)) });
  const dir = resolve(o.out);
  if (o.force === 'false' && existsSync(dir) && readdirSync(dir).length > 0) throw new SynodError('INVALID_ARGUMENT', `${dir} is not empty (pass --force to overwrite)`);
  const files = writeDeploymentSecrets(dir, o.cluster, o.dcs);
  process.stdout.write(`wrote ${files.length} files to ${dir}: ${files.join(' ')}\n`);
}
