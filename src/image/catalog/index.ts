import { apkCataloger } from './apk.js';
import { dpkgCataloger } from './dpkg.js';
import { npmCataloger } from './npm.js';
import { osCataloger } from './os.js';
import { pythonCataloger } from './python.js';
import { rpmCataloger } from './rpm.js';
import { goCataloger } from './go.js';
import { javaCataloger } from './java.js';
import { rubyCataloger } from './ruby.js';
import { composerCataloger } from './composer.js';
import { dotnetCataloger } from './dotnet.js';
import { rustCataloger } from './rust.js';
import type { Cataloger } from './types.js';

export type { Cataloger, CatalogFile, FileAnalysis, FileFacts, FileSink, FoundPackage, OsCandidate } from './types.js';

/** Every cataloger Palisade runs by default, OS first. */
export const DEFAULT_CATALOGERS: readonly Cataloger[] = [
  osCataloger,
  dpkgCataloger,
  apkCataloger,
  rpmCataloger,
  npmCataloger,
  pythonCataloger,
  goCataloger,
  javaCataloger,
  rubyCataloger,
  composerCataloger,
  dotnetCataloger,
  rustCataloger,
];
