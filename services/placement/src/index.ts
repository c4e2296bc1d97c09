export { PlacementService, PLACEMENT_GROUP, type PlacementServiceOptions } from './placement-service.js';
export { runPlacement, PLACEMENT_HELP } from './main.js';
