/** What to configure in each cloud registry so its events reach Palisade (printed by `registry add`). */
export function cloudWebhookSnippet(kind: 'ecr' | 'ghcr' | 'quay' | 'artifact-registry' | 'artifactory' | 'nexus', webhookUrl: string, token: string, webhookSecret?: string): string {
  switch (kind) {
    case 'ecr':
      return [
        '# Amazon ECR → EventBridge: an API destination with a connection that sends the token',
        `aws events create-connection --name palisade --authorization-type API_KEY \\`,
        `  --auth-parameters "ApiKeyAuthParameters={ApiKeyName=Authorization,ApiKeyValue=Bearer ${token}}"`,
        `aws events create-api-destination --name palisade --connection-arn CONNECTION_ARN --http-method POST \\`,
        `  --invocation-endpoint ${webhookUrl}`,
        `aws events put-rule --name palisade-ecr --event-pattern '{"source":["aws.ecr"],"detail-type":["ECR Image Action"]}'`,
        `aws events put-targets --rule palisade-ecr --targets "Id=palisade,Arn=API_DESTINATION_ARN,RoleArn=ROLE_ARN"`,
      ].join('\n');
    case 'ghcr':
      return [
        '# GitHub Container Registry: organisation (or repository) → Settings → Webhooks → Add webhook',
        '# (GitHub sends no custom headers: the token travels in the URL)',
        `Payload URL: ${webhookUrl}?token=${token}`,
        'Content type: application/json',
        'Events: Packages (and Registry packages)',
      ].join('\n');
    case 'quay':
      return [
        '# Quay: Repository → Settings → Create Notification',
        'When this event occurs: Push to Repository',
        'Then issue a notification: Webhook POST',
        `Webhook URL: ${webhookUrl}?token=${token}`,
      ].join('\n');
    case 'artifact-registry':
      return [
        '# Artifact Registry / Container Registry: a push subscription on the project\'s "gcr" topic',
        '# (Pub/Sub sends no custom headers: the token travels in the URL; leave push authentication off)',
        `gcloud pubsub subscriptions create palisade --topic=gcr --push-endpoint='${webhookUrl}?token=${token}'`,
      ].join('\n');
    case 'artifactory':
      return [
        '# JFrog Artifactory: Administration → General → Webhooks → New Webhook',
        'Event: Docker → Docker tag was pushed, Docker tag was deleted (domain docker: pushed, deleted)',
        `URL: ${webhookUrl}`,
        `Custom header: Authorization = Bearer ${token}`,
      ].join('\n');
    case 'nexus':
      return [
        '# Sonatype Nexus Repository: Administration → System → Capabilities → Create capability → Webhook: Repository',
        '# (Nexus sends no custom headers: the token travels in the URL; every delivery is signed with the secret key)',
        'Repository: the Docker repository; Event Types: component',
        `URL: ${webhookUrl}?token=${token}`,
        `Secret Key: ${webhookSecret ?? 'SECRET'}`,
      ].join('\n');
  }
}
