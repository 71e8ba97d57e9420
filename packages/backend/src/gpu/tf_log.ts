// What TensorFlow's own start-up log says about the GPUs. libtensorflow writes it to the
// process's stderr (fd 2) directly, so only a parent process can read it: `yolo-launch doctor`
// runs each backend in a child and parses its stderr with this. The formats are TF 2.9's
// (tfjs-node-gpu 4.x); the TF 2.4 form of the device line is accepted too.

export interface CreatedGpuDevice {
  /** "/job:localhost/replica:0/task:0/device:GPU:0" */
  tfDevice: string;
  memoryMB: number;
  /** the CUDA ordinal among the visible devices */
  ordinal: number;
  name: string;
  pciBusId: string;
  computeCapability: string;
}

export interface MissingLibrary {
  library: string;
  dlerror: string;
}

export interface TfLogFacts {
  /** "Created device ... GPU:n": TensorFlow registered this GPU and will place ops on it */
  createdGpus: CreatedGpuDevice[];
  /** "Could not load dynamic library 'x'; dlerror: ..." */
  missingLibraries: MissingLibrary[];
  /** "Cannot dlopen some GPU libraries ... Skipping registering GPU devices..." */
  skippedGpuRegistration: boolean;
  /** "failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected" */
  cuInitError: string | null;
  /** "kernel reported version is: 535.104.5" (the loaded kernel module's version) */
  kernelDriverVersion: string | null;
  /** compute capabilities TF will JIT-compile PTX for ("not built with CUDA kernel binaries compatible with compute capability 9.0") */
  ptxJit: string[];
  /** "Ignoring visible gpu device (...) with Cuda compute capability 3.0. The minimum required Cuda capability is 3.5." */
  ignoredGpus: string[];
}

const CREATED =
  /Created device (\/job:\S+\/device:GPU:\d+) with (\d+) MB memory:?\s*->\s*device: (\d+), name: (.*?), pci bus id: ([^,]+), compute capability: (\d+\.\d+)/;
const CREATED_TF24 =
  /Created TensorFlow device \((\/job:\S+\/device:GPU:\d+) with (\d+) MB memory\) -> physical GPU \(device: (\d+), name: (.*?), pci bus id: ([^,]+), compute capability: (\d+\.\d+)\)/;
const MISSING = /Could not load dynamic library '([^']+)'; dlerror: ([^;\n]*)/;
const CUINIT = /failed call to cuInit: (.+)$/;
const KERNEL_VERSION = /kernel reported version is: (\S+)/;
const PTX = /not built with CUDA kernel binaries compatible with compute capability (\d+\.\d+)/;
const IGNORED =
  /Ignoring visible gpu device \((.*)\) with Cuda compute capability (\d+\.\d+)\. The minimum required Cuda capability is (\d+\.\d+)/;

export function parseTfLog(text: string): TfLogFacts {
  const facts: TfLogFacts = {
    createdGpus: [],
    missingLibraries: [],
    skippedGpuRegistration: false,
    cuInitError: null,
    kernelDriverVersion: null,
    ptxJit: [],
    ignoredGpus: [],
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue; // provenance notes in recorded logs
    const created = CREATED.exec(line) ?? CREATED_TF24.exec(line);
    if (created) {
      const [, tfDevice, memory, ordinal, name, pciBusId, cc] = created;
      facts.createdGpus.push({
        tfDevice: tfDevice!,
        memoryMB: Number(memory),
        ordinal: Number(ordinal),
        name: name!,
        pciBusId: pciBusId!.trim(),
        computeCapability: cc!,
      });
      continue;
    }
    const missing = MISSING.exec(line);
    if (missing && !facts.missingLibraries.some((m) => m.library === missing[1]))
      facts.missingLibraries.push({ library: missing[1]!, dlerror: missing[2]!.trim() });
    if (/Skipping registering GPU devices/.test(line)) facts.skippedGpuRegistration = true;
    facts.cuInitError ??= CUINIT.exec(line)?.[1]?.trim() ?? null;
    facts.kernelDriverVersion ??= KERNEL_VERSION.exec(line)?.[1] ?? null;
    const ptx = PTX.exec(line)?.[1];
    if (ptx && !facts.ptxJit.includes(ptx)) facts.ptxJit.push(ptx);
    const ignored = IGNORED.exec(line);
    if (ignored)
      facts.ignoredGpus.push(
        `${ignored[1]}: compute capability ${ignored[2]} is below TensorFlow's minimum ${ignored[3]}`,
      );
  }
  return facts;
}

/** What the log says went wrong, one actionable line each; [] when it shows no problem. */
export function tfLogReasons(facts: TfLogFacts): string[] {
  const reasons: string[] = [];
  const libraries = facts.missingLibraries.filter(
    (m) => m.library !== 'libnvinfer.so.7' && m.library !== 'libnvinfer_plugin.so.7',
  ); // TensorRT: optional
  const driver = libraries.find((m) => m.library.startsWith('libcuda.so'));
  if (driver)
    reasons.push(
      `TensorFlow could not load ${driver.library} (the NVIDIA driver): ${driver.dlerror}. Install the driver; in Docker use --gpus all with the NVIDIA Container Toolkit`,
    );
  const toolkit = libraries.filter((m) => m !== driver);
  if (toolkit.length > 0) {
    reasons.push(
      `TensorFlow could not load ${toolkit.map((m) => m.library).join(', ')} (${toolkit[0]!.dlerror}): it needs CUDA 11.2 and cuDNN 8.1 on LD_LIBRARY_PATH or in the loader cache`,
    );
  }
  if (facts.skippedGpuRegistration && toolkit.length === 0 && !driver)
    reasons.push('TensorFlow skipped registering the GPUs (a CUDA library failed to load; see its log)');
  if (facts.cuInitError) reasons.push(explainCuInit(facts.cuInitError, facts.kernelDriverVersion));
  reasons.push(...facts.ignoredGpus);
  return reasons;
}

function explainCuInit(error: string, kernelVersion: string | null): string {
  const driver = kernelVersion ? ` (driver ${kernelVersion})` : '';
  if (/NO_DEVICE/.test(error))
    return `CUDA found no GPU${driver}: CUDA_VISIBLE_DEVICES names no existing GPU, or the container was started without GPUs (cuInit: ${error})`;
  if (/INSUFFICIENT_DRIVER|COMPAT_NOT_SUPPORTED|SYSTEM_DRIVER_MISMATCH/.test(error)) {
    return `the NVIDIA driver${driver} is too old or mismatched for CUDA 11.2: install driver >= 460.32.03, or the one your GPU needs (cuInit: ${error})`;
  }
  return `CUDA could not initialise${driver}: ${error}`;
}
