// Stand-in for Microsoft.Azure.Functions.Worker.FunctionAttribute (package Microsoft.Azure.Functions.Worker.Core).
namespace Microsoft.Azure.Functions.Worker;

/// <summary>Marks a method as a function; the name is the function's name in the host.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class FunctionAttribute : Attribute
{
    /// <summary>Names the function.</summary>
    public FunctionAttribute(string name) => Name = name;

    /// <summary>The function's name.</summary>
    public string Name { get; }
}
