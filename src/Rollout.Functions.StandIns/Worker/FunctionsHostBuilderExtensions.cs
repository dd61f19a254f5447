// Stand-in for Microsoft.Extensions.Hosting.FunctionsHostBuilderExtensions
// (package Microsoft.Azure.Functions.Worker.Extensions.Http.AspNetCore).
namespace Microsoft.Extensions.Hosting;

/// <summary>The ASP.NET Core integration of the isolated worker.</summary>
public static class FunctionsHostBuilderExtensions
{
    /// <summary>Configures the worker with ASP.NET Core integration (HttpRequest in, IActionResult out).</summary>
    public static IHostBuilder ConfigureFunctionsWebApplication(this IHostBuilder builder) =>
        throw new NotSupportedException("stand-in: build with -p:RolloutFunctionsStandIns=false to run the Functions app");
}
