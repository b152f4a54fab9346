export * from './keys';
export * from './proof';
export * from './software-band';
export * from './rssi-script';
export * from './ble-tap-detector';
export * from './bench';
export * from './card-application';
export * from './band-card';
