import { lazyModule } from '../../core/index.js';

/** The AWS SDK's ECR client, loaded when an ECR registry is first logged in to or listed (it is some 200 files). */
export const ecrSdk = lazyModule<typeof import('@aws-sdk/client-ecr')>('@aws-sdk/client-ecr');
