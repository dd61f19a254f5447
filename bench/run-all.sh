#!/usr/bin/env bash
# Reruns every figure of bench/README.md in sequence (about 15 minutes on the 2-core machine), printing the machine and
# the load average next to each. Run it when the machine is otherwise idle: figures from a busy machine are not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "# $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(free -h | awk '/Mem:/ {print $2}') memory; dotnet $(dotnet --version)"
command -v wrk >/dev/null || { echo "wrk is needed for figure 2: apt-get install -y wrk"; exit 2; }
dotnet build -c Release bench/Rollout.Benchmarks >/dev/null
dotnet build -c Release bench/Rollout.LoadHarness >/dev/null
harness=bench/Rollout.LoadHarness/bin/Release/net10.0/Rollout.LoadHarness
echo "## 1. flag evaluation ($(uptime))"
dotnet run -c Release --no-build --project bench/Rollout.Benchmarks -- --filter '*' 2>&1 | grep -E '^\| |^// (Runtime|Host)|^BenchmarkDotNet|^AMD|^Intel|^\.NET SDK'
echo "## 2. evaluate endpoint ($(uptime))"
"$harness" evaluate --duration 20 --connections 32 | grep -E '^RESULT|^# wrk|Latency|Requests/sec'
echo "## 3. reaction ($(uptime))"
"$harness" reaction --rollbacks 200 | grep -E '^RESULT|^#   '
echo "## 4. scale ($(uptime))"
"$harness" scale --rollouts 1000,5000,10000 --interval 5 --duration 60 | grep -E '^RESULT|^#'
echo "## 5. Azure cost (analysis)"
"$harness" azure-cost | grep -vE '^# (machine|load)'
