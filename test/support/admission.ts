/**
 * AdmissionReview requests as the Kubernetes API server sends them (admission.k8s.io/v1, the shape
 * of the upstream docs' example), for tests of the admission webhook.
 */
export function admissionReview(object: unknown, request: Record<string, unknown> = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'e911857d-c318-11e8-bbad-025000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object,
      dryRun: false,
      ...request,
    },
  };
}

/** A Pod in namespace shop with one container `c`. */
export function pod(name: string, image: string, securityContext: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec: { containers: [{ name: 'c', image, securityContext }] } };
}
