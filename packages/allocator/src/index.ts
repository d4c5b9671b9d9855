export * from './errors'
export * from './region/region'
export { SimRegion, CrashMode, CrashOptions, mulberry32 } from './region/sim-region'
