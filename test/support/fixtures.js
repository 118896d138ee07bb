import { existsSync } from 'node:fs';
import path from 'node:path';
/**
 * The shared, read-only fixtures beside the repository (PALISADE_FIXTURES, default ../shared/fixtures).
 * In CI a missing folder is an error with a clear message; on a laptop the tests that need it are skipped.
 */
export const FIXTURES = path.resolve(process.env.PALISADE_FIXTURES ?? path.join(import.meta.dirname, '../../../shared/fixtures'));
export function fixturesAvailable() {
    if (existsSync(FIXTURES))
        return true;
    if (process.env.CI === 'true') {
        throw new Error(`fixtures not found at ${FIXTURES}: set PALISADE_FIXTURES to the shared fixtures folder`);
    }
    return false;
}
export function fixture(...parts) {
    return path.join(FIXTURES, ...parts);
}
//# sourceMappingURL=fixtures.js.map