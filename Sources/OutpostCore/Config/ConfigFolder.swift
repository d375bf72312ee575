/// The folder of the config file, against which the relative paths written in it resolve.
package enum ConfigFolder {
    /// `path` made absolute against `folder`; an absolute path, or an unknown folder (""), leaves it as written.
    package static func resolve(_ path: String, in folder: String) -> String {
        path.hasPrefix("/") || folder.isEmpty ? path : folder + "/" + path
    }
}
