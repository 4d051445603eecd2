import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'core/index': 'src/core/index.ts',
    'core/bytes': 'src/core/bytes.ts',
    'core/errors': 'src/core/errors.ts',
    'core/tlv/index': 'src/core/tlv/index.ts',
    'core/iso7816/index': 'src/core/iso7816/index.ts',
    'core/crypto/index': 'src/core/crypto/index.ts',
    'core/gp/index': 'src/core/gp/index.ts',
    'core/pboc/index': 'src/core/pboc/index.ts',
    'core/profile/index': 'src/core/profile/index.ts',
    'core/iso14443/index': 'src/core/iso14443/index.ts',
    'card/index': 'src/card/index.ts',
    'machines/index': 'src/machines/index.ts',
    'testing/index': 'src/testing/index.ts',
    'wire/index': 'src/wire/index.ts',
    'clients/index': 'src/clients/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  tsconfig: 'tsconfig.json',
});
