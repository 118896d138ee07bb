import type { Kysely } from 'kysely';
import type { Recommendation, ResourceRef } from '../core/index.js';
import { listRunningImages, type Database } from '../store/index.js';

export const REGISTRY_POLICY = 'registry-images-vulnerabilities';

interface ImageState {
  ref: ResourceRef;
  scanned: boolean;
  /** Critical, high and medium findings of its latest scan. */
  serious: number;
}

/** Unhealthy while a scan found serious findings, healthy when it found none, not applicable until scanned. */
function byScanResult(images: readonly ImageState[]): Pick<Recommendation, 'healthy' | 'unhealthy' | 'notApplicable'> {
  return {
    healthy: images.filter((i) => i.scanned && i.serious === 0).map((i) => i.ref),
    unhealthy: images.filter((i) => i.scanned && i.serious > 0).map((i) => i.ref),
    notApplicable: images.filter((i) => !i.scanned).map((i) => i.ref),
  };
}

/**
 * Defender's "Container registry images should have vulnerability findings resolved": every
 * scanned image of the registry is a resource, unhealthy while it has critical, high or medium findings.
 */
export async function registryRecommendation(db: Kysely<Database>, registry: string): Promise<Recommendation> {
  const images = await db.selectFrom('images')
    // Findings a VEX statement suppresses (not_affected, fixed) need no remediation (migration 0740).
    .leftJoin('findings', (join) => join.onRef('findings.digest', '=', 'images.digest').on('findings.severity', 'in', ['critical', 'high', 'medium']).on('findings.suppressed', '=', false))
    .select(['images.id', 'images.repository', 'images.digest', 'images.last_scanned'])
    .select((eb) => eb.fn.count<number>('findings.id').as('serious'))
    .where('images.registry', '=', registry).where('images.deleted', '=', false)
    .groupBy(['images.id', 'images.repository', 'images.digest', 'images.last_scanned'])
    .orderBy('images.id')
    .execute();
  return {
    policy: REGISTRY_POLICY,
    title: 'Container registry images should have vulnerability findings resolved',
    severity: 'high',
    control: 'Remediate vulnerabilities',
    remediation: 'Update the vulnerable packages (each finding lists the fixed version and command), rebuild and push the image, and remove images no longer used.',
    ...byScanResult(images.map((image) => ({
      ref: { kind: 'image', id: image.id, name: `${image.repository}@${image.digest.slice(0, 19)}` },
      scanned: image.last_scanned !== null,
      serious: Number(image.serious),
    }))),
  };
}

export const RUNNING_IMAGES_POLICY = 'running-images-vulnerabilities';

/**
 * Defender's "Running container images should have vulnerability findings resolved": each image
 * a cluster runs (by digest, as its last posture scan listed them) is a resource, unhealthy while
 * its scan has critical, high or medium findings; not applicable when Palisade has not scanned it
 * (from a registry that is not connected, or not pulled yet).
 */
export async function runningImagesRecommendation(db: Kysely<Database>, cluster: string): Promise<Recommendation> {
  const rows = await listRunningImages(db, { cluster });
  const images = new Map<string, ImageState>();
  for (const row of rows) {
    const key = row.digest ?? row.image;
    if (images.has(key)) continue;
    images.set(key, {
      ref: { kind: 'image', id: `${cluster}/${key}`, name: row.image, cluster },
      scanned: row.scanned,
      serious: row.critical + row.high + row.medium,
    });
  }
  return {
    policy: RUNNING_IMAGES_POLICY,
    title: 'Running container images should have vulnerability findings resolved',
    severity: 'high',
    control: 'Remediate vulnerabilities',
    remediation: 'Rebuild the image with the fixed package versions each finding lists, push it, and roll the workloads onto the new digest. Connect the registry the cluster pulls from so every running image is scanned.',
    ...byScanResult([...images.values()]),
  };
}
