using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Rollout.Cli.Demo;
using Rollout.Core.Metrics;
using Rollout.Core.Storage;
using Rollout.Integrations.Exposure;
using Rollout.Integrations.Metrics;
using Rollout.Integrations.Storage;
using Rollout.Integrations.Storage.TableStorage;

namespace Rollout.Cli.Hosting;

/// <summary>
/// What <c>rollout serve</c> runs with. <c>Store</c> is <see cref="LocalHost.SqliteStore"/> (a file under the data
/// directory) or <see cref="LocalHost.AzureTablesStore"/> with its <c>StoreConnection</c> string; <c>Settings</c> are
/// the integrations' settings (Teams channels, approval signing, ...) on top of the environment.
/// </summary>
internal sealed record LocalHostOptions(
    string Urls,
    string DataDirectory,
    string ApiKey,
    bool DemoMetrics = false,
    SchedulerOptions? Scheduler = null,
    LogLevel LogLevel = LogLevel.Information,
    string Store = LocalHost.SqliteStore,
    string? StoreConnection = null,
    IReadOnlyDictionary<string, string?>? Settings = null,
    Integrations.DeliveryServiceOptions? Deliveries = null);

/// <summary>The local host: the HTTP API on Kestrel, the store (SQLite under the data directory, or Azure Table Storage), and the scheduler.</summary>
internal static class LocalHost
{
    public const string DatabaseFile = "rollout.db";
    public const string SqliteStore = "sqlite";
    public const string AzureTablesStore = "azure-tables";

    /// <summary>The store the options name. Throws <see cref="FormatException"/> for a malformed connection string (the message names no secret).</summary>
    public static IRolloutStore CreateStore(LocalHostOptions options) => options.Store switch
    {
        SqliteStore => new SqliteRolloutStore(Path.Combine(options.DataDirectory, DatabaseFile)),
        AzureTablesStore => TableRolloutStore.FromConnectionString(
            options.StoreConnection is { Length: > 0 } connection ? connection : throw new FormatException("the azure-tables store needs a connection string")),
        _ => throw new FormatException($"unknown store '{options.Store}' (sqlite or azure-tables)"),
    };

    /// <summary>The integration store beside the rollout store: the same SQLite file, or the same Table Storage account.</summary>
    public static IIntegrationStore CreateIntegrationStore(LocalHostOptions options) => options.Store == AzureTablesStore
        ? TableIntegrationStore.FromConnectionString(options.StoreConnection!)
        : new SqliteIntegrationStore(Path.Combine(options.DataDirectory, DatabaseFile));

    public static WebApplication Build(LocalHostOptions options)
    {
        Directory.CreateDirectory(options.DataDirectory);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(options.Urls);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Api.MaxBodyBytes);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(c =>
        {
            c.SingleLine = true;
            c.TimestampFormat = "HH:mm:ss ";
        });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        if (options.Settings is { } settings)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(CreateStore(options));
        services.AddSingleton(HttpMetricSource.CreateClient());
        services.AddSingleton<IReadOnlyList<IMetricSource>>(sp => MetricSources.CreateDefault(sp.GetRequiredService<HttpClient>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new CriteriaEvaluator(sp.GetRequiredService<IReadOnlyList<IMetricSource>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<FlagStore>();
        services.AddSingleton<RolloutRuntime>();
        services.AddSingleton(options.Scheduler ?? SchedulerOptions.Default);
        services.AddHostedService<Scheduler>();
        Integrations.IntegrationServices.Add(services, builder.Configuration, options.DataDirectory, CreateIntegrationStore(options), options.Deliveries);

        var app = builder.Build();
        // Links in cards point at the listening address unless Rollout:PublicUrl says otherwise, however the app is run.
        app.Lifetime.ApplicationStarted.Register(() => Integrations.IntegrationServices.Started(app.Services, ListeningAddress(app)));
        Api.Map(app, options.ApiKey);
        DashboardEndpoints.Map(app);
        if (options.DemoMetrics)
        {
            DemoMetrics.Map(app);
        }

        return app;
    }

    /// <summary>Builds, loads the store and starts listening; returns the running app and its first address.</summary>
    public static async Task<(WebApplication App, Uri Address)> StartAsync(LocalHostOptions options, CancellationToken ct)
    {
        var app = Build(options);
        await InitializeAsync(app, ct);
        await app.StartAsync(ct);
        return (app, ListeningAddress(app));
    }

    /// <summary>
    /// Prepares a built host before it listens: the rollout store (and commands left pending), then the integration
    /// store (outbox, gate waiters, used approval links). Throws <see cref="InvalidOperationException"/> naming a bad setting.
    /// </summary>
    public static async Task InitializeAsync(WebApplication app, CancellationToken ct)
    {
        await app.Services.GetRequiredService<RolloutRuntime>().InitializeAsync(ct);
        await Integrations.IntegrationServices.InitializeAsync(app.Services, ct);
    }

    private static Uri ListeningAddress(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <summary>The API key: <c>ROLLOUT_API_KEY</c>, else the one stored under the data directory, else a new one stored there.</summary>
    public static (string Key, string? File) ResolveApiKey(string dataDirectory)
    {
        if (Environment.GetEnvironmentVariable("ROLLOUT_API_KEY") is { Length: > 0 } fromEnvironment)
        {
            return (fromEnvironment, null);
        }

        Directory.CreateDirectory(dataDirectory);
        var file = Path.Combine(dataDirectory, "api-key");
        if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } stored)
        {
            return (stored, file);
        }

        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
        File.WriteAllText(file, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return (key, file);
    }
}
