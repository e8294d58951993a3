import type { Command } from 'commander';
import { runCapture } from '../capture/run.js';
import { EXIT } from '../errors.js';
import { addExitCodes } from './exit-codes.js';

export function registerCapture(program: Command): void {
  const cmd = program.command('capture');
  addExitCodes(cmd, [[EXIT.ok, 'the output was written (packets that could not be decrypted are kept, and counted)']]);
  cmd
    .description(
      'Read packets from a pcap/pcapng file and write them as pcap; with --decrypt-esp, replace each ESP packet ' +
        '(flannel ipsec backend, any xfrm tunnel) by its decrypted inner packet, using the keys from `ip xfrm state`',
    )
    .option('-r, --read <file>', "pcap or pcapng file to read, as written by `tcpdump -w` ('-' for stdin)")
    .option('-w, --write <file>', "pcap file to write ('-' for stdout)")
    .option(
      '--xfrm-state <file>',
      'output of `ip xfrm state` run as root on the nodes involved (several nodes may be concatenated)',
    )
    .option('--decrypt-esp', 'decrypt ESP packets whose SA is in --xfrm-state; others are kept as captured')
    .option(
      '--threads <n>',
      'worker threads that decrypt while the main thread reads and writes (default 0: none)',
      (v: string) => Number(v),
    )
    .option(
      '--write-keys <file>',
      'write the SAs and their keys as a Wireshark esp_sa table (secret: keys are written only here)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  kubectl flannel capture -r node1.pcap --xfrm-state node1-xfrm.txt --decrypt-esp -w node1-clear.pcap\n' +
        'A summary (packets read, decrypted per SA, failures by reason) goes to stderr.',
    )
    .action(
      async (opts: {
        read?: string;
        write?: string;
        xfrmState?: string;
        decryptEsp?: boolean;
        writeKeys?: string;
        threads?: number;
      }) => {
        await runCapture(opts, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      },
    );
}
