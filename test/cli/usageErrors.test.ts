import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cliHarness.js';
import { tempDir } from '../helpers/tempDir.js';

const bareEnv = (): NodeJS.ProcessEnv => ({ HOME: tempDir('home') });

describe('usage errors: standard error, nothing on standard output, exit status 2, in every command', () => {
  it.each([
    [[], /^kpa: no command given\n/],
    [['rnu'], /^kpa: unknown command "rnu" \(did you mean "run"\?\)\n/],
    [['run', '--http-port'], /^kpa run: Option '--http-port <value>' argument missing/],
    [['run', '--dry-rn'], /^kpa run: Unknown option '--dry-rn' \(did you mean --dry-run\?\)/],
    [['run', '--targets', 'simulations/targets-example.yaml', '--namespaces', 'a'], /^kpa run: --namespaces applies to Kubernetes mode, not to --targets mode\n/],
    [['run', '--embedded', '--dry-run'], /^kpa run: --dry-run applies to Kubernetes mode, not to the embedded demo \(--embedded\)\n/],
    [['run', '--embedded', '--metrics-names', 'knative-1.17'], /^kpa run: --metrics-names: .*knative-1\.18.*knative.*both/],
    [['run', '--embedded', '--stats-token-file', '/no/such/token'], /^kpa run: --stats-token-file \/no\/such\/token: ENOENT\n/],
    [['run', '--embedded', '--metric-names', 'both'], /^kpa run: Unknown option '--metric-names' \(did you mean --metrics-names\?\)/],
    [['activator', '--rotues', 'x'], /^kpa activator: Unknown option '--rotues' \(did you mean --routes\?\)/],
    [['activator', 'stray'], /^kpa activator: Unexpected argument 'stray'/],
    [['activator', '--routes', 'x', '--kubeconfig', 'y'], /^kpa activator: --kubeconfig applies to the Kubernetes mode, not to --routes/],
    [['replay'], /^kpa replay: replay takes exactly one FILE/],
    [['replay', '--explian', '-'], /^kpa replay: Unknown option '--explian' \(did you mean --explain\?\)/],
    [['simulate'], /^kpa simulate: simulate takes exactly one SCENARIO file/],
    [['simulate', 'x.yaml', '--otu', 'd'], /^kpa simulate: Unknown option '--otu' \(did you mean --out\?\)/],
    [['sweep', 'x.yaml', '--out', 'd'], /^kpa sweep: at least one --param/],
    [['sweep', 'x.yaml', '--parm', 'config.stable-window=6s'], /^kpa sweep: Unknown option '--parm' \(did you mean --param\?\)/],
    [['sweep', 'simulations/steady.yaml', '--param', 'config.stable-window=6s', '--out', 'd', '--workers', 'many'], /^kpa sweep: --workers must be a whole number/],
  ])('kpa %j', async (args, message) => {
    const result = await runCli(args, '', bareEnv());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});
