export { buildGateway, GATEWAY_DEFAULTS, type Gateway, type GatewayOptions } from './server.js';
export { GATEWAY_ERROR_CODES, GATEWAY_ONLY_CODES, HTTP_STATUS, errorResponse, type GatewayErrorCode } from './errors.js';
export { openApiPath, frameworkPath } from './routes.js';
export { GATEWAY_HELP, runGateway } from './main.js';
export * as schemas from './schemas.js';
export { addPicture, PICTURE_PATHS, type Picture, type PictureOptions } from './picture/routes.js';
export { PICTURE_DEFAULTS } from './picture/poller.js';
export { SSE_DEFAULTS } from './picture/sse.js';
export type { PictureSnapshot, Sample as PictureSample } from './picture/model.js';
