// Stand-in for Microsoft.Azure.Functions.Worker.WorkerOptions (package Microsoft.Azure.Functions.Worker.Core).
using Azure.Core.Serialization;

namespace Microsoft.Azure.Functions.Worker;

/// <summary>Options of the worker; only the serializer is declared.</summary>
public class WorkerOptions
{
    /// <summary>The serializer for all JSON (the Durable extension builds its DataConverter from it).</summary>
    public ObjectSerializer? Serializer { get; set; }
}
