/** Where the REST API lives; its own module so that naming it does not load the app. */
export const API_PREFIX = '/api/v1';
