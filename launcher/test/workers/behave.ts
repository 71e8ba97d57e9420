// A worker whose behaviour the test picks with arguments (any order):
//   fail-rank=R fail-code=C   rank R prints two lines and exits with C after a short delay
//   fail-once                 ...only while RESTART_COUNT is 0
//   hang                      the other ranks sleep until killed
//   ignore-term               the sleeping ranks ignore SIGTERM (the launcher must SIGKILL)
//   marker=...                ignored: it lets the test find this process in /proc
// Every rank prints "ready rank=R pid=P" first.
if (process.env.RANK === undefined) process.exit(0); // run directly (node --test runs every file)

const args = new Map(
  process.argv.slice(2).map((a) => {
    const eq = a.indexOf('=');
    return eq < 0 ? [a, 'true'] : [a.slice(0, eq), a.slice(eq + 1)];
  }),
);
const rank = Number(process.env.RANK);
const restart = Number(process.env.RESTART_COUNT ?? 0);
process.stdout.write(`ready rank=${rank} pid=${process.pid} restart=${restart}\n`);

if (args.has('ignore-term')) process.on('SIGTERM', () => process.stdout.write(`rank ${rank} ignores SIGTERM\n`));

const failRank = args.has('fail-rank') ? Number(args.get('fail-rank')) : -1;
const failNow = rank === failRank && (!args.has('fail-once') || restart === 0);
if (failNow) {
  setTimeout(() => {
    process.stderr.write(`rank ${rank} is about to fail\n`);
    process.stderr.write(`last words of rank ${rank}\n`);
    process.exit(Number(args.get('fail-code') ?? 1));
  }, 300);
} else if (args.has('hang')) {
  setInterval(() => {}, 1000);
} else {
  setTimeout(() => process.stdout.write(`rank ${rank} done\n`), 100);
}
