/**
 * The contract between image analysis (src/image, Trivy's "analyzer") and vulnerability
 * matching (src/vulndb, Trivy's "detector"): what was installed, where, on which OS.
 * Inventories are stored, so a database update re-matches them without pulling images again.
 */

/** OSV ecosystem names, exactly as osv.dev spells them (distro ones without the release suffix). */
export type Ecosystem =
  | 'Debian' | 'Ubuntu' | 'Alpine' | 'Wolfi' | 'Chainguard' | 'Red Hat' | 'AlmaLinux' | 'Rocky Linux'
  | 'SUSE' | 'openSUSE' | 'Azure Linux' | 'Mariner' | 'Amazon Linux'
  | 'npm' | 'PyPI' | 'Go' | 'Maven' | 'crates.io' | 'RubyGems' | 'NuGet' | 'Packagist';

export interface OperatingSystem {
  /** os-release ID: debian, ubuntu, alpine, rhel, sles, azurelinux, mariner, amzn, ... */
  id: string;
  /** os-release VERSION_ID, or the release file's version (`12`, `3.19.1`, `8.9`). */
  version: string;
  prettyName?: string;
  /** OSV ecosystem whose advisories apply to this OS's packages, e.g. `Debian:12`, `Alpine:v3.19`. */
  ecosystem?: string;
  distroless?: boolean;
}

export interface InstalledPackage {
  name: string;
  version: string;
  /** OSV ecosystem without release (`Debian`, `npm`, ...). */
  ecosystem: Ecosystem | string;
  purl: string;
  /** Distro source package (dpkg `Source:`, rpm source rpm name, apk origin) and its version when it differs. */
  sourceName?: string;
  sourceVersion?: string;
  /** rpm architecture, dpkg Architecture, ... */
  arch?: string;
  /** Digest of the layer that introduced this package. */
  layer?: string;
  /** File the package was read from, inside the image. */
  path?: string;
}

export interface ImageInventory {
  os?: OperatingSystem;
  packages: InstalledPackage[];
}
