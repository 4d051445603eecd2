/**
 * The commands that personalize a blank e-purse over the air, inside the ISD's SCP03 session (which wraps them):
 * INSTALL [for personalization] of the e-purse, then STORE DATA of its DGIs (EMV CPS). The public DGIs — EF 0x15
 * with the card's serial, the purse parameters, an EP state of 0 — are built here; the keys (8001) and the PIN
 * (8010) come from the issuer key store already encrypted under the card's DEK, so no clear card key exists in the
 * platform's memory.
 * @module
 */
import { concat, fromHex } from '@simtap/sdk/core/bytes';
import { storeDataCommands } from '@simtap/sdk/core/gp';
import { EPURSE_DGI, epursePersonalizationItems } from '@simtap/sdk/core/pboc';
import type { CardRecord } from '../contactless';
import type { Platform } from '../platform';

/** One command of the personalization, before secure messaging. */
export interface PersonalizationCommand {
  /** What it is, for errors and logs. */
  readonly label: string;
  readonly apdu: Uint8Array;
}

/** INSTALL [for personalization] of `aid` (`80 E6 20 00`, GPC 2.3.1 §11.5.2.3). */
export function installForPersonalization(aid: Uint8Array): Uint8Array {
  return concat(
    Uint8Array.of(0x80, 0xe6, 0x20, 0x00, aid.length + 6, 0x00, 0x00, aid.length),
    aid,
    Uint8Array.of(0x00, 0x00, 0x00, 0x00),
  );
}

/**
 * The personalization of `card`'s e-purse: INSTALL [for personalization], then the STORE DATA commands (counters 0,
 * the issuance PIN, and `balance`: 0 for a new card, the float moved to it for a lost card's replacement).
 */
export async function personalizationCommands(
  platform: Platform,
  card: CardRecord,
  balance: number,
): Promise<PersonalizationCommand[]> {
  const iss = platform.config.issuance;
  const serial = fromHex(card.cardSerial);
  const items = epursePersonalizationItems(
    {
      applicationSerial: serial,
      keyIndex: iss.keyIndex,
      keyVersion: iss.keyVersion,
      algorithmId: iss.algorithmId,
      initialBalance: 0,
    },
    { balance },
    iss.profile,
  );
  const secrets = await platform.keys.personalizationSecrets({
    cardSerial: serial,
    kdd: fromHex(card.kdd),
    keyIndex: iss.keyIndex,
    keyVersion: iss.keyVersion,
    algorithm: iss.algorithmId,
    pin: iss.pin,
  });
  const store = storeDataCommands([
    ...items.map((i) => ({ dgi: i.dgi, data: i.data })),
    { dgi: EPURSE_DGI.KEYS, data: secrets.keys, preEncrypted: true },
    { dgi: EPURSE_DGI.PIN, data: secrets.pin, preEncrypted: true },
  ]);
  return [
    { label: 'INSTALL [for personalization]', apdu: installForPersonalization(fromHex(iss.epurseAid)) },
    ...store.map((apdu, n) => ({ label: `STORE DATA block ${n}`, apdu })),
  ];
}
