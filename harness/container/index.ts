export {
  CAPABILITIES,
  containerSpec,
  isOrphan,
  ownerLabels,
  parseCopyOut,
  type ContainerSpec,
  type CopyOut,
  type Owner,
  type RunOptions,
} from './config.js'
export { dockerSocket, ensureDocker, pingDocker, type DockerStatus } from './docker.js'
export { ContainerError } from './errors.js'
export { debianMirror, ensureImage, imageHash, imageTag, RUNNER_PACKAGES, type ImageResult } from './image.js'
export { reapContainers, type ReapResult } from './reap.js'
export { runInContainer, type ContainerRunOptions, type ContainerRunResult } from './run.js'
