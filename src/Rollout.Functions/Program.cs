using Microsoft.Extensions.Hosting;
using Rollout.Functions;

// The isolated worker with ASP.NET Core integration (HttpRequest in, IActionResult out); Core and the adapters are
// wired in RolloutServices so the tests build the very same container.
var host = new HostBuilder()
    .ConfigureFunctionsWebApplication()
    .ConfigureServices((context, services) => RolloutServices.Add(services, context.Configuration))
    .Build();

host.Run();
