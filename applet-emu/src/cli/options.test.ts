import { describe, expect, it } from 'vitest';
import {
  CLI_OPTIONS,
  CLI_VERSION,
  CliUsageError,
  cardLabels,
  DEFAULT_VPCD,
  DEFAULT_WAIT_SECONDS,
  helpText,
  parseCliArgs,
  parseHostPort,
  psamLabels,
} from './options';

function run(argv: string[]) {
  const cmd = parseCliArgs(argv);
  if (cmd.kind !== 'run') throw new Error(`expected run, got ${cmd.kind}`);
  return cmd.options;
}

function usageError(argv: string[]): CliUsageError {
  try {
    parseCliArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(CliUsageError);
    expect((err as CliUsageError).code).toBe('CLI_USAGE');
    expect((err as Error).message).not.toContain('\n');
    return err as CliUsageError;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('parseCliArgs', () => {
  it('defaults to card-1, contactless, vpcd slot 0, no image, diversified keys, no e-purse, no PSAM, no trace, 30 s wait', () => {
    expect(run([])).toEqual({
      card: 'card-1',
      image: undefined,
      defaultKeys: false,
      personalized: false,
      psam: undefined,
      vpcdHost: '127.0.0.1',
      vpcdPort: 35963,
      iface: 'contactless',
      trace: false,
      waitSeconds: 30,
    });
    expect(DEFAULT_VPCD).toBe('127.0.0.1:35963');
    expect(DEFAULT_WAIT_SECONDS).toBe(30);
  });

  it('parses every option', () => {
    expect(
      run([
        '--card',
        'card-3',
        '--image',
        '/tmp/x.img',
        '--default-keys',
        '--personalized',
        '--vpcd',
        'pcscd.local:35964',
        '--interface',
        'contact',
        '--trace',
        '--wait',
        '5',
      ]),
    ).toEqual({
      card: 'card-3',
      image: '/tmp/x.img',
      defaultKeys: true,
      personalized: true,
      psam: undefined,
      vpcdHost: 'pcscd.local',
      vpcdPort: 35964,
      iface: 'contact',
      trace: true,
      waitSeconds: 5,
    });
    expect(run(['--wait', '0']).waitSeconds).toBe(0);
    expect(run(['--wait=86400']).waitSeconds).toBe(86_400);
  });

  it('accepts --name=value and every card of the profile', () => {
    expect(cardLabels()).toEqual(['card-1', 'card-2', 'card-3']);
    for (const label of cardLabels()) expect(run([`--card=${label}`]).card).toBe(label);
    expect(run(['--interface=contactless']).iface).toBe('contactless');
  });

  it('--psam runs a PSAM of the profile, on the contact interface unless --interface says otherwise', () => {
    expect(psamLabels()).toEqual(['pos-1', 'gate-1']);
    expect(run(['--psam', 'gate-1', '--vpcd', '127.0.0.1:35964'])).toMatchObject({
      psam: 'gate-1',
      iface: 'contact',
      vpcdPort: 35964,
      personalized: false,
    });
    expect(run(['--psam=pos-1', '--interface', 'contactless', '--image', 'pos-1.img'])).toMatchObject({
      psam: 'pos-1',
      iface: 'contactless',
      image: 'pos-1.img',
    });
  });

  it('returns help and version commands, help first', () => {
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['-h'])).toEqual({ kind: 'help' });
    expect(parseCliArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseCliArgs(['-V'])).toEqual({ kind: 'version' });
    expect(parseCliArgs(['--version', '--help'])).toEqual({ kind: 'help' });
    expect(CLI_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['--card', 'card-9'], /--card must be one of card-1, card-2, card-3; got "card-9"/],
    [['--card='], /--card must be one of/],
    [['--interface', 'nfc'], /--interface must be one of contactless, contact/],
    [['--vpcd', 'localhost'], /--vpcd expects HOST:PORT/],
    [['--vpcd', 'localhost:0'], /--vpcd expects HOST:PORT/],
    [['--vpcd', 'localhost:65536'], /--vpcd expects HOST:PORT/],
    [['--vpcd', ':35963'], /--vpcd expects HOST:PORT/],
    [['--vpcd', '256.1.1.1:35963'], /--vpcd expects HOST:PORT .*"256\.1\.1\.1" is none$/],
    [['--vpcd', '1.2.3:35963'], /"1\.2\.3" is none$/],
    [['--vpcd', '[::g]:35963'], /"::g" is none$/],
    [['--vpcd', 'bad_host:35963'], /"bad_host" is none$/],
    [['--vpcd=-pcscd:35963'], /"-pcscd" is none$/],
    [['--vpcd', 'pcscd-:35963'], /"pcscd-" is none$/],
    [['--wait', '-1'], /^option --wait needs a value$/],
    [['--wait', '1.5'], /--wait expects whole seconds in 0\.\.86400 \(0 = forever\), got "1\.5"/],
    [['--wait', '86401'], /--wait expects whole seconds/],
    [['--wait', 'ten'], /--wait expects whole seconds/],
    [['--wait='], /--wait expects whole seconds/],
    [['--image='], /--image expects a file path/],
    [['--bogus'], /^unknown option --bogus$/],
    [['-z'], /^unknown option -z$/],
    [['--card'], /^option --card needs a value$/],
    [['--card', '--trace'], /^option --card needs a value$/],
    [['--trace=yes'], /^option --trace does not take a value$/],
    [['card-2'], /^unexpected argument 'card-2'$/],
    [['--card', 'card-1', '--card', 'card-2'], /--card given more than once/],
    [['--psam', 'pos-9'], /--psam must be one of pos-1, gate-1; got "pos-9"/],
    [['--psam'], /^option --psam needs a value$/],
    [['--personalized=yes'], /^option --personalized does not take a value$/],
    [['--psam', 'pos-1', '--personalized'], /^--psam runs a PSAM, not a SIM: --personalized does not apply$/],
    [['--psam', 'pos-1', '--card', 'card-2', '--default-keys'], /: --card, --default-keys do not apply$/],
  ])('rejects %j', (argv, message) => {
    expect(usageError(argv).message).toMatch(message);
  });
});

describe('parseHostPort', () => {
  it('parses names, IPv4 and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:35963')).toEqual({ host: '127.0.0.1', port: 35963 });
    expect(parseHostPort('[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(parseHostPort('vpcd.example:65535')).toEqual({ host: 'vpcd.example', port: 65535 });
    expect(parseHostPort('localhost:35963')).toEqual({ host: 'localhost', port: 35963 });
    expect(parseHostPort('255.255.255.255:1')).toEqual({ host: '255.255.255.255', port: 1 });
    expect(parseHostPort('[fe80::1]:35963')).toEqual({ host: 'fe80::1', port: 35963 });
    expect(() => parseHostPort('::1:35963')).toThrow(CliUsageError);
  });
});

describe('helpText', () => {
  it('documents every option of the table, help, version and the defaults', () => {
    const text = helpText();
    expect(text).toMatch(/^Usage: simtap-card \[options\]/);
    for (const def of CLI_OPTIONS) {
      expect(text).toContain(`--${def.name}${def.value ? ` ${def.value}` : ''}`);
      if (def.default) expect(text).toContain(`(default ${def.default})`);
    }
    for (const name of [
      'card',
      'image',
      'default-keys',
      'personalized',
      'psam',
      'vpcd',
      'wait',
      'interface',
      'trace',
    ]) {
      expect(CLI_OPTIONS.map((d) => d.name)).toContain(name);
    }
    expect(text).toContain('-h, --help');
    expect(text).toContain('-V, --version');
    expect(text).toContain('SIGTERM');
    expect(text).toContain('Exit status');
    // The truth about npx: its status is not ours (dash ends `sh -c` on Ctrl-C, npm re-raises SIGINT: 130).
    expect(text).toContain('npx exits 130');
    expect(text).toContain('SIGTERM sent to npx');
    expect(text).toContain('pcscd --foreground &');
    expect(text).toContain('PATH.lock');
    expect(text).toContain('--psam pos-1 --vpcd 127.0.0.1:35964');
    expect(text).toContain('--personalized --image card-1.img');
  });
});
