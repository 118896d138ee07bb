/** Metering: the one place usage rows are written (read by costs.ts). */
export { CORE_HOURS_METER, IMAGE_SCANS_METER, meterCoreHour, meterImageScan } from './meter.js';
export { recordListedNodes } from './nodes.js';
