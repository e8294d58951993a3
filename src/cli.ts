import { Command } from 'commander';
const program = new Command('kubectl-flannel');
program.description('Diagnose Flannel pod networking');
await program.parseAsync(process.argv);
