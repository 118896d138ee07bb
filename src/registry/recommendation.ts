import type { Kysely } from 'kysely';
import type { Recommendation, ResourceRef } from '../core/index.js';
import type { Database } from '../store/index.js';

export const REGISTRY_POLICY = 'registry-images-vulnerabilities';

/**
 * Defender's "Container registry images should have vulnerability findings resolved": every
 * scanned image of the registry is a resource, unhealthy while it has critical, high or medium findings.
 */
export async function registryRecommendation(db: Kysely<Database>, registry: string): Promise<Recommendation> {
  const images = await db.selectFrom('images')
    .leftJoin('findings', (join) => join.onRef('findings.digest', '=', 'images.digest').on('findings.severity', 'in', ['critical', 'high', 'medium']))
    .select(['images.id', 'images.repository', 'images.digest', 'images.last_scanned'])
    .select((eb) => eb.fn.count<number>('findings.id').as('serious'))
    .where('images.registry', '=', registry).where('images.deleted', '=', false)
    .groupBy(['images.id', 'images.repository', 'images.digest', 'images.last_scanned'])
    .orderBy('images.id')
    .execute();
  const healthy: ResourceRef[] = [];
  const unhealthy: ResourceRef[] = [];
  const notApplicable: ResourceRef[] = [];
  for (const image of images) {
    const ref: ResourceRef = { kind: 'image', id: image.id, name: `${image.repository}@${image.digest.slice(0, 19)}` };
    if (!image.last_scanned) notApplicable.push(ref);
    else if (Number(image.serious) > 0) unhealthy.push(ref);
    else healthy.push(ref);
  }
  return {
    policy: REGISTRY_POLICY,
    title: 'Container registry images should have vulnerability findings resolved',
    severity: 'high',
    control: 'Remediate vulnerabilities',
    remediation: 'Update the vulnerable packages (each finding lists the fixed version and command), rebuild and push the image, and remove images no longer used.',
    healthy,
    unhealthy,
    notApplicable,
  };
}
