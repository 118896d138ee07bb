import { apkCataloger } from './apk.js';
import { dpkgCataloger } from './dpkg.js';
import { npmCataloger } from './npm.js';
import { osCataloger } from './os.js';
import { pythonCataloger } from './python.js';
import { rpmCataloger } from './rpm.js';
import type { Cataloger } from './types.js';

export type { Cataloger, CatalogFile, FileAnalysis, FileFacts, FileSink, FoundPackage, OsCandidate } from './types.js';

/** Every cataloger Palisade runs by default, OS first. */
export const DEFAULT_CATALOGERS: readonly Cataloger[] = [osCataloger, dpkgCataloger, apkCataloger, rpmCataloger, npmCataloger, pythonCataloger];
