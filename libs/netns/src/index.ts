export { DcNetwork, CUT_CHAIN, DEFAULT_STATE_DIR, MAX_DCS, type CreateOptions, type DcEndpoint, type DcNetworkJSON } from './dc-network.js';
export { COMMAND_TIMEOUT_MS, INSTALL_HINT, findTools, requireRoot, type Tools } from './shell.js';
