// faults.test.ts again with every rank on the TS ring (YOLO_COMM_NATIVE=0): the fallback where
// the native addon is not built must keep its dead-peer, timeout, mismatch and shutdown behaviour.
// (The harness passes this process's environment to every rank.)
process.env.YOLO_COMM_NATIVE = '0';
await import('./faults.test.js');
