import neostandard from 'neostandard';

export default [
  ...neostandard({ ts: true, semi: true, ignores: ['dist/**', 'node_modules/**'] }),
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'nats', '@nats-io/*', 'lmdb', 'piscina', '@opentelemetry/*'], message: 'core/ is pure: do I/O in workers/ or cluster/.' },
          { group: ['../workers/*', '../cluster/*'], message: 'core/ must not depend on workers/ or cluster/.' },
        ],
      }],
    },
  },
];
