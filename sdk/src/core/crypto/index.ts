/**
 * Card cryptography primitives: DES/3DES and AES block ciphers (ECB/CBC), ISO/IEC 9797-1 padding and MACs,
 * AES-CMAC, SP 800-108 / SCP03 key derivation, key check values and random bytes.
 *
 * @module
 */
export { AesCipher, aesCbcDecrypt, aesCbcEncrypt, aesEcbDecrypt, aesEcbEncrypt } from './aes';
export { AesCmac, aesCmac } from './cmac';
export {
  adjustParity,
  DesCipher,
  type DesVariant,
  desCbcDecrypt,
  desCbcEncrypt,
  desEcbDecrypt,
  desEcbEncrypt,
} from './des';
export { DesCbcMac, type MacOptions, macAlg1, macAlg3, RetailMac } from './iso9797';
export { kcv, kcvAes, kcvDes } from './kcv';
export { type CmacKeyInput, type KdfCounterOptions, kdfCounterCmac, SCP03_DERIVATION, scp03Derive } from './kdf';
export { PADDING_ERRORS, type PaddingErrorCode, type PaddingMethod, padIso9797, unpadIso7816 } from './padding';
export { type RandomSource, randomBytes } from './random';
