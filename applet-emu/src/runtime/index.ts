/**
 * The card OS runtime of the virtual dual-interface SIM: power and ATR/ATS, interfaces and logical channels,
 * selection, file system, persistent and transient memory with atomic transactions and tear injection, the
 * command dispatcher, card images, and the applet contract.
 *
 * @module
 */
export {
  type ApduContext,
  type Applet,
  type AppletEnv,
  type AppletFactory,
  CARD_INTERFACES,
  CARD_LIFECYCLE,
  type CardInterface,
  isSelectableLifecycle,
  LIFECYCLE,
  PRIVILEGE,
  type SelectReason,
} from './applet';
export {
  BUILTIN_FACTORIES,
  Card,
  type CardApduChannel,
  type CardLogger,
  type CardObserver,
  type CardOptions,
  type CardSnapshot,
  DEFAULT_ATR_HEX,
  DEFAULT_ATS_HEX,
  isValidSw,
} from './card';
export { DirectoryDdf, type DirectoryDdfOptions, type DirectoryEntry, directoryRecord } from './directory';
export {
  CardImageError,
  type CardImageErrorCode,
  CardRemovedError,
  CardTornError,
  FileSystemError,
  type FileSystemErrorCode,
  RegistryError,
  type RegistryErrorCode,
  RUNTIME_ERRORS,
  type RuntimeErrorCode,
  StoreError,
  type StoreErrorCode,
} from './errors';
export {
  type FileAccess,
  type FileHandleOptions,
  type FileOperation,
  fileControlParameters,
  resolveFileSelect,
  type SecurityStatus,
  type StatusSink,
} from './file-commands';
export {
  type AccessCondition,
  type DedicatedFile,
  type DfSpec,
  type EfAccess,
  type EfSpec,
  type EfStructure,
  type ElementaryFile,
  type FileNode,
  FileSystem,
} from './file-system';
export { CARD_IMAGE_MAGIC_HEX, CARD_IMAGE_VERSION, crc32, decodeCardImage, encodeCardImage } from './image';
export {
  type ImageFileHandle,
  type ImageFileOptions,
  type ImageIo,
  type ImageLock,
  ImageLockedError,
  type ImageLockHolder,
  imageLockPath,
  loadImage,
  lockImage,
  nodeImageIo,
  saveImage,
} from './image-file';
export {
  type JsonValue,
  PersistentMemory,
  PersistentStore,
  type RollbackHook,
  type StoredValue,
  type TearWhen,
  TransientStore,
} from './memory';
export { type InstallOptions, Registry, type RegistryEntry } from './registry';
export { SampleApplet } from './sample-applet';
export { enumerateTearPoints, type TearOutcome } from './tear';
