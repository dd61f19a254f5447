using Rollout.LoadHarness;

// Issue 7's figures 2-5. Each verb starts what it measures on 127.0.0.1 only, bounds its load in count and time, stops by
// itself and prints its figures with the machine and the load average. See bench/README.md.
var verb = args.Length > 0 ? args[0] : "help";
var options = Args.Parse(args.Skip(1));
Console.WriteLine(Machine.Describe());
switch (verb)
{
    case "evaluate":
        return await EvaluateLoad.RunAsync(options);
    case "reaction":
        return await Reaction.RunAsync(options);
    case "scale":
        return await Scale.RunAsync(options);
    case "azure-cost":
        return AzureCost.Run(options);
    default:
        Console.WriteLine("""
            usage: dotnet run -c Release --project bench/Rollout.LoadHarness -- <verb> [--name value ...]
              evaluate    GET /api/flags/{flag}/evaluate under wrk: requests/s, p50/p99/max, memory
                          --duration 20 --connections 32 --threads 1
              reaction    time from a stop signal, and from a failing evaluation, to exposure zero
                          --rollbacks 200
              scale       N concurrent rollouts checked every --interval against a fast metric source: lag and memory
                          --rollouts 1000,5000,10000 --interval 5 --duration 60
              azure-cost  history events and storage transactions of the Durable Functions design, and the cost of a plan
            """);
        return verb == "help" ? 0 : 2;
}
