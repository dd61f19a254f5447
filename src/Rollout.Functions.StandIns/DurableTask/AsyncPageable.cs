// Stand-ins for Microsoft.DurableTask.AsyncPageable<T> and Page<T> (package Microsoft.DurableTask.Abstractions): the
// return type of DurableTaskClient.GetAllInstancesAsync, which a test fake of the client must override.
namespace Microsoft.DurableTask;

/// <summary>Values that may take several service calls to enumerate.</summary>
public abstract class AsyncPageable<T> : IAsyncEnumerable<T>
    where T : notnull
{
    /// <summary>The values a page at a time.</summary>
    public abstract IAsyncEnumerable<Page<T>> AsPages(string? continuationToken = default, int? pageSizeHint = default);

    /// <inheritdoc/>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) => throw new NotSupportedException("stand-in");
}

/// <summary>One page of results.</summary>
public sealed class Page<T>(IReadOnlyList<T> values, string? continuationToken = null)
    where T : notnull
{
    /// <summary>The values.</summary>
    public IReadOnlyList<T> Values { get; } = values;

    /// <summary>The continuation token, or null at the end.</summary>
    public string? ContinuationToken { get; } = continuationToken;
}
