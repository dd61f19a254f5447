// Stand-ins for Microsoft.Azure.Functions.Worker.HttpTriggerAttribute and AuthorizationLevel
// (package Microsoft.Azure.Functions.Worker.Extensions.Http).
namespace Microsoft.Azure.Functions.Worker;

/// <summary>The authorization level the host enforces for an HTTP function.</summary>
public enum AuthorizationLevel
{
    /// <summary>No key.</summary>
    Anonymous = 0,

    /// <summary>A user token.</summary>
    User = 1,

    /// <summary>A function (or host) key, e.g. in the x-functions-key header.</summary>
    Function = 2,

    /// <summary>A system key.</summary>
    System = 3,

    /// <summary>The master key.</summary>
    Admin = 4,
}

/// <summary>Binds a parameter to the HTTP request that triggers the function.</summary>
[AttributeUsage(AttributeTargets.Parameter)]
public sealed class HttpTriggerAttribute : Attribute
{
    /// <summary>Function level, any method.</summary>
    public HttpTriggerAttribute() => AuthLevel = AuthorizationLevel.Function;

    /// <summary>The given methods.</summary>
    public HttpTriggerAttribute(params string[] methods) => Methods = methods;

    /// <summary>The given level, any method.</summary>
    public HttpTriggerAttribute(AuthorizationLevel authLevel) => AuthLevel = authLevel;

    /// <summary>The given level and methods.</summary>
    public HttpTriggerAttribute(AuthorizationLevel authLevel, params string[] methods)
    {
        AuthLevel = authLevel;
        Methods = methods;
    }

    /// <summary>The route template (after the host's route prefix).</summary>
    public string? Route { get; set; }

    /// <summary>The HTTP methods.</summary>
    public string[]? Methods { get; private set; }

    /// <summary>The authorization level.</summary>
    public AuthorizationLevel AuthLevel { get; private set; }
}
