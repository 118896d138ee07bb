import { describe, expect, it } from 'vitest';
import { spdxValidator } from '../../../test/registry-harbor/spdx-schema.js';
import { harborSbomReport } from './sbom.js';
import { harborSpdxReport, SPDX_MEDIA_TYPE } from './spdx.js';

const digest = `sha256:${'a'.repeat(64)}`;
const artifact = { repository: 'demo/app', digest, tag: '1', mime_type: 'application/vnd.oci.image.manifest.v1+json' };
const image = { name: 'demo/app:1', digest, id: `sha256:${'b'.repeat(64)}`, layers: [] };
const packages = [
  { name: 'libssl3', version: '3.0.11-1~deb12u2', ecosystem: 'Debian', purl: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12', layer: `sha256:${'c'.repeat(64)}`, path: 'var/lib/dpkg/status' },
  { name: 'lodash', version: '4.17.20', ecosystem: 'npm', purl: 'pkg:npm/lodash@4.17.20', path: 'app/node_modules/lodash/package.json' },
  // The same purl at a second path: two packages, two SPDX ids.
  { name: 'lodash', version: '4.17.20', ecosystem: 'npm', purl: 'pkg:npm/lodash@4.17.20', path: 'app/other/node_modules/lodash/package.json' },
];

describe('SPDX 2.3 from the Harbor SBOM', () => {
  const cyclonedx = harborSbomReport(artifact, image, { packages }, [], [], new Date('2026-06-30T12:00:00.123Z'));
  const validate = spdxValidator();

  it('writes a document the SPDX 2.3 JSON schema accepts, with every package, its purl, and CONTAINS from the image', () => {
    const report = harborSpdxReport(cyclonedx);
    expect(report.media_type).toBe(SPDX_MEDIA_TYPE);
    expect(report.artifact).toEqual(artifact);
    expect(validate(report.sbom)).toEqual([]);
    expect(report.sbom.creationInfo).toEqual({ created: '2026-06-30T12:00:00Z', creators: [expect.stringMatching(/^Tool: Palisade-/)] });
    expect(report.sbom.packages.map((p) => [p.name, p.versionInfo])).toEqual([['demo/app', digest], ['libssl3', '3.0.11-1~deb12u2'], ['lodash', '4.17.20'], ['lodash', '4.17.20']]);
    expect(report.sbom.packages[0]).toMatchObject({ primaryPackagePurpose: 'CONTAINER', checksums: [{ algorithm: 'SHA256', checksumValue: 'a'.repeat(64) }] });
    expect(report.sbom.packages[1]!.externalRefs).toEqual([{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: packages[0]!.purl }]);
    expect(report.sbom.relationships).toHaveLength(4);
    expect(report.sbom.relationships.filter((r) => r.relationshipType === 'CONTAINS').map((r) => r.relatedSpdxElement)).toEqual(['SPDXRef-Package-1', 'SPDXRef-Package-2', 'SPDXRef-Package-3']);
  });

  it('names the document the same way each time it is asked for, and differently for another scan', () => {
    expect(harborSpdxReport(cyclonedx).sbom.documentNamespace).toBe(harborSpdxReport(cyclonedx).sbom.documentNamespace);
    const later = harborSbomReport(artifact, image, { packages }, [], [], new Date('2026-07-01T12:00:00Z'));
    expect(harborSpdxReport(later).sbom.documentNamespace).not.toBe(harborSpdxReport(cyclonedx).sbom.documentNamespace);
    expect(harborSpdxReport(cyclonedx).sbom.documentNamespace).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('the schema check can fail: a package without its required downloadLocation, or a wrong relationship type, is reported', () => {
    const document = harborSpdxReport(cyclonedx).sbom as unknown as { packages: Array<Record<string, unknown>>; relationships: Array<Record<string, unknown>> };
    delete document.packages[1]!.downloadLocation;
    document.relationships[0]!.relationshipType = 'HOLDS';
    const errors = validate(document);
    expect(errors).toContainEqual(expect.stringContaining('/packages/1 must have required property \'downloadLocation\''));
    expect(errors).toContainEqual(expect.stringContaining('/relationships/0/relationshipType must be equal to one of the allowed values'));
  });
});
