// One browser and a few real hosts on a 2-core machine: the tests run one at a time.
[assembly: DoNotParallelize]
